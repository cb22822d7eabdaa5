fn main() {
    std::process::exit(lucc::main_with_args(std::env::args_os().collect()));
}
