//! The `mutua` binary: parses the command line and hands over to the library.

fn main() {
    if let Err(reason) = mutua::cli::run() {
        eprintln!("error: {reason}");
        std::process::exit(1);
    }
}
