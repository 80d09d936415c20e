//! Raw system calls for the code between clone and exec: no glibc wrapper runs,
//! so nothing writes `errno`, which a `CLONE_VM` child shares with the daemon.

/// Whether this architecture has the inline `syscall` below. Only then may a
/// child share the daemon's memory while the daemon keeps running (`start`).
pub(super) const INLINE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// One syscall with up to six arguments: the result, or the errno.
///
/// # Safety
/// As the syscall `n` itself: pointer arguments must be valid for it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn call(n: libc::c_long, a: [usize; 6]) -> Result<usize, i32> {
    let ret: isize;
    // SAFETY: the x86_64 Linux syscall ABI: rax, then rdi rsi rdx r10 r8 r9;
    // rcx and r11 are clobbered; no stack is used.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    decode(ret)
}

/// One syscall with up to six arguments: the result, or the errno.
///
/// # Safety
/// As the syscall `n` itself: pointer arguments must be valid for it.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub(super) unsafe fn call(n: libc::c_long, a: [usize; 6]) -> Result<usize, i32> {
    let ret: isize;
    // SAFETY: the aarch64 Linux syscall ABI: x8 the number, x0..x5 the
    // arguments, x0 the result.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") n,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    decode(ret)
}

/// Elsewhere: glibc's `syscall`, which does write `errno` (so `start` forks).
///
/// # Safety
/// As the syscall `n` itself: pointer arguments must be valid for it.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) unsafe fn call(n: libc::c_long, a: [usize; 6]) -> Result<usize, i32> {
    // SAFETY: forwarded as is.
    let ret = unsafe { libc::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if ret < 0 {
        // SAFETY: this thread's errno slot.
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(ret as usize)
    }
}

/// The kernel returns -errno in -4095..-1.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn decode(ret: isize) -> Result<usize, i32> {
    if (-4095..0).contains(&ret) {
        Err(-ret as i32)
    } else {
        Ok(ret as usize)
    }
}

/// `exit_group(code)`: ends the child without running anything of the daemon.
///
/// # Safety
/// Only in the child.
pub(super) unsafe fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes no pointer; it does not return.
        let _ = unsafe { call(libc::SYS_exit_group, [code as usize, 0, 0, 0, 0, 0]) };
    }
}
