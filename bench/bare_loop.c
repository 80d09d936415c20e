/* bench/bare_loop.c: the floor for gsup's daemon targets, and small probes
 * that bench/daemon.sh applies identically to gsup, runit and s6.
 *
 *   bare_loop coldstart N        fork+exec N `sleep 100000` without waiting, until
 *                                every child has exec'd (one shared CLOEXEC pipe
 *                                reaches EOF); prints seconds; then kills and reaps.
 *   bare_loop coldstart-sync N   the same, but waiting for each child's exec (its own
 *                                CLOEXEC pipe) before the next fork, as gsup's spawn() does.
 *   bare_loop coldstart-vfork N  the same with vfork (no page-table copy), as spawn() does.
 *   bare_loop restart R FILE     R times: SIGKILL the child, waitpid it, fork+exec
 *                                `bare_loop stamp FILE`; latency = kill -> the new
 *                                process's stamp. Prints min/median/max in ms.
 *   bare_loop stamp FILE         writes CLOCK_MONOTONIC ns to FILE, then sleeps forever
 *                                (the job used to time restarts, for every supervisor).
 *   bare_loop now                prints CLOCK_MONOTONIC ns.
 *   bare_loop kill PID           prints CLOCK_MONOTONIC ns, then SIGKILLs PID (PID > 1).
 *   bare_loop waitcomm COMM N T  polls /proc every 1 ms until N processes named COMM
 *                                exist or T seconds pass; prints CLOCK_MONOTONIC ns
 *                                (exit 1 on timeout).
 *   bare_loop waitstamp FILE OLD T  polls FILE every 0.1 ms until it holds a number
 *                                != OLD; prints it (both restart probes poll the same way).
 *   bare_loop interleave R -- CMD ARGS... [-- CMD ARGS...]...
 *                                runs the commands in turn (posix_spawn, output to
 *                                /dev/null), R rounds after 20 unmeasured ones, the
 *                                first command of each round rotating; prints each
 *                                command's median wall time in ms. Load that drifts
 *                                during the run hits every command alike.
 *
 * Run it only inside a PID namespace (daemon.sh does): it signals pids it is given.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *const sleep_argv[] = {"sleep", "100000", NULL};

static int coldstart(int n) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return perror("pipe2"), 1;
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) return 1;
    long long t0 = now_ns();
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            setsid();
            execvp("sleep", sleep_argv);
            _exit(127);
        }
        if (pid < 0) return perror("fork"), 1;
        pids[i] = pid;
    }
    close(p[1]);
    char c;
    while (read(p[0], &c, 1) > 0) {}
    long long t1 = now_ns();
    printf("bare coldstart %d: %.3f s (fork+exec, all exec'd)\n", n, (t1 - t0) / 1e9);
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
    free(pids);
    return 0;
}

/* As coldstart, but each fork waits for its child's exec (own CLOEXEC pipe)
 * before the next: the floor for a spawner that reports exec failures
 * synchronously, as gsup's spawn() does. */
static int coldstart_sync(int n) {
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) return 1;
    long long t0 = now_ns();
    for (int i = 0; i < n; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) return perror("pipe2"), 1;
        pid_t pid = fork();
        if (pid == 0) {
            setsid();
            execvp("sleep", sleep_argv);
            _exit(127);
        }
        if (pid < 0) return perror("fork"), 1;
        close(p[1]);
        char c;
        while (read(p[0], &c, 1) > 0) {}
        close(p[0]);
        pids[i] = pid;
    }
    long long t1 = now_ns();
    printf("bare coldstart-sync %d: %.3f s (fork, wait for each exec)\n", n, (t1 - t0) / 1e9);
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
    free(pids);
    return 0;
}

/* As coldstart-sync, with vfork: the parent is suspended until the child's
 * exec, with no page-table copy (what gsup's spawn() does with CLONE_VFORK). */
static int coldstart_vfork(int n) {
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) return 1;
    long long t0 = now_ns();
    for (int i = 0; i < n; i++) {
        pid_t pid = vfork();
        if (pid == 0) {
            setsid();
            execvp("sleep", sleep_argv);
            _exit(127);
        }
        if (pid < 0) return perror("vfork"), 1;
        pids[i] = pid;
    }
    long long t1 = now_ns();
    printf("bare coldstart-vfork %d: %.3f s (vfork, suspended until each exec)\n", n,
           (t1 - t0) / 1e9);
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
    free(pids);
    return 0;
}

static pid_t spawn_stamp(const char *self, const char *file) {
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        execl(self, "bare_loop", "stamp", file, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static long long read_stamp(const char *file) {
    FILE *f = fopen(file, "r");
    long long v = 0;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1) v = 0;
        fclose(f);
    }
    return v;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int restart(const char *self, int rounds, const char *file) {
    long long *lat = calloc((size_t)rounds, sizeof *lat);
    if (!lat) return 1;
    unlink(file);
    pid_t child = spawn_stamp(self, file);
    while (read_stamp(file) == 0) sleep_ms(1);
    for (int i = 0; i < rounds; i++) {
        long long old = read_stamp(file);
        long long t0 = now_ns();
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = spawn_stamp(self, file);
        long long s;
        while ((s = read_stamp(file)) == old) usleep(100);
        lat[i] = s - t0;
    }
    printf("bare restart first: %.3f ms, tenth: %.3f ms\n", lat[0] / 1e6,
           rounds >= 10 ? lat[9] / 1e6 : -1.0);
    qsort(lat, (size_t)rounds, sizeof *lat, cmp_ll);
    printf("bare restart over %d: min %.3f ms, median %.3f ms, max %.3f ms\n", rounds,
           lat[0] / 1e6, lat[rounds / 2] / 1e6, lat[rounds - 1] / 1e6);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    free(lat);
    return 0;
}

static int stamp(const char *file) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.%d", file, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return 1;
    fprintf(f, "%lld\n", now_ns());
    fclose(f);
    rename(tmp, file); /* atomic: a reader never sees half a number */
    for (;;) pause();
}

static int count_comm(const char *comm) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    char path[300], buf[64];
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r <= 0) continue;
        buf[r] = 0;
        if (buf[r - 1] == '\n') buf[r - 1] = 0;
        if (strcmp(buf, comm) == 0) n++;
    }
    closedir(d);
    return n;
}

extern char **environ;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int interleave(int rounds, int argc, char **argv) {
    char **cmds[16];
    int n = 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            argv[i] = NULL;
            if (i + 1 < argc && n < 16) cmds[n++] = &argv[i + 1];
        }
    if (n == 0 || rounds < 1) return fprintf(stderr, "interleave: no command\n"), 2;
    double *t = calloc((size_t)n * rounds, sizeof *t);
    if (!t) return 1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    for (int r = -20; r < rounds; r++)
        for (int k = 0; k < n; k++) {
            int c = (k + (r < 0 ? 0 : r)) % n;
            pid_t pid;
            int st;
            long long t0 = now_ns();
            if (posix_spawn(&pid, cmds[c][0], &fa, NULL, cmds[c], environ) != 0)
                return fprintf(stderr, "interleave: cannot run %s\n", cmds[c][0]), 1;
            if (waitpid(pid, &st, 0) != pid) return 1;
            if (r >= 0) t[(size_t)c * rounds + r] = (now_ns() - t0) / 1e6;
        }
    for (int c = 0; c < n; c++) {
        qsort(t + (size_t)c * rounds, rounds, sizeof *t, cmp_d);
        printf("%.3f", t[(size_t)c * rounds + rounds / 2]);
        for (char **a = cmds[c]; *a; a++) printf(" %s", *a);
        printf("\n");
    }
    free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "interleave") == 0)
        return interleave(atoi(argv[2]), argc - 3, argv + 3);
    if (argc >= 3 && strcmp(argv[1], "coldstart") == 0) return coldstart(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "coldstart-sync") == 0) return coldstart_sync(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "coldstart-vfork") == 0) return coldstart_vfork(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "restart") == 0)
        return restart("/proc/self/exe", atoi(argv[2]), argv[3]);
    if (argc >= 3 && strcmp(argv[1], "stamp") == 0) return stamp(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "now") == 0) return printf("%lld\n", now_ns()) < 0;
    if (argc >= 3 && strcmp(argv[1], "kill") == 0) {
        int pid = atoi(argv[2]);
        if (pid <= 1) return fprintf(stderr, "refusing pid %d\n", pid), 2;
        printf("%lld\n", now_ns());
        fflush(stdout);
        return kill(pid, SIGKILL) != 0;
    }
    if (argc >= 5 && strcmp(argv[1], "waitcomm") == 0) {
        int want = atoi(argv[3]);
        long long deadline = now_ns() + atoll(argv[4]) * 1000000000LL;
        while (count_comm(argv[2]) < want) {
            if (now_ns() > deadline) return fprintf(stderr, "timeout\n"), 1;
            sleep_ms(1);
        }
        return printf("%lld\n", now_ns()) < 0;
    }
    if (argc >= 5 && strcmp(argv[1], "waitstamp") == 0) {
        long long old = atoll(argv[3]), s;
        long long deadline = now_ns() + atoll(argv[4]) * 1000000000LL;
        while ((s = read_stamp(argv[2])) == old || s == 0) {
            if (now_ns() > deadline) return fprintf(stderr, "timeout\n"), 1;
            usleep(100);
        }
        return printf("%lld\n", s) < 0;
    }
    fprintf(stderr, "usage: see the comment at the top of bench/bare_loop.c\n");
    return 2;
}
