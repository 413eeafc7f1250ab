fn main() -> std::process::ExitCode {
    crm_gateway::cli::main()
}
