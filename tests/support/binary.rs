//! The `deskdraft` binary as tests run it: isolated from the caller's `DESKDRAFT_*` settings and
//! pointed at the repository's model and prompts.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with every inherited `DESKDRAFT_*` variable removed (a developer's own settings must
/// not change a test), run in `work_dir`, with the model folder and prompts of this repository.
pub fn isolated_deskdraft(work_dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_deskdraft"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DESKDRAFT_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(work_dir)
        .env(
            "DESKDRAFT_EMBEDDING__MODEL_DIR",
            repo().join("models/all-MiniLM-L6-v2"),
        )
        .env("DESKDRAFT_DRAFTING__PROMPTS_DIR", repo().join("prompts"));
    command
}
