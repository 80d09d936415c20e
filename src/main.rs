//! The `gsup` binary: parses the command line and hands over to the library.
//! It holds no logic of its own, so that every path is reachable from tests.

fn main() {
    std::process::exit(gsup::cli::main());
}
