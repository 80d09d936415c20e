//! Job log files: where each job's output goes, and their rotation.
//! Opens files for the spawner; never reads a job's output in the daemon.
