//! What a sweep leaves on disk: the run folder and its atomic writes, summary.json, loss.csv,
//! steps.csv (the logged training loss of every logged step),
//! the bytes it all takes and the filesystem failures that stop a sweep (`disk`),
//! the diagnosis evidence read back from a finished run folder, and who trained a run
//! (`worker`: host and Slurm task).

pub mod disk;
pub mod evidence;
pub mod loss_csv;
pub mod run_dir;
pub mod steps_csv;
pub mod summary;
pub mod worker;
