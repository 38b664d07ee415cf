//! This machine as the `workers` table knows it: its host name and its PID namespace. A worker row of
//! the same host and namespace whose pid is gone belongs to a process known dead at once.

/// The host name (`localhost` when it cannot be read).
pub fn host() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The PID namespace (`pid:[4026531836]`), '' when it cannot be read.
pub fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
