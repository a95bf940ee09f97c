//! `--run-tasks`: runs each named task once, each on a fresh user, without a master, and
//! prints what it recorded: a quick check of a task while writing it.

use crate::{Error, Options, Registry};

/// `--run-tasks`: runs each named task once, without a master, each on a fresh user, and
/// prints what it recorded.
pub(crate) async fn run(registry: &Registry, opts: &Options) -> Result<(), Error> {
    let mut out = std::io::stdout();
    crate::users::run_tasks(
        registry,
        &opts.run_tasks,
        opts.load.host.as_deref(),
        &mut out,
    )
    .await
    .map_err(|name| {
        let names = registry
            .tasks
            .iter()
            .map(|t| match t.class {
                Some(_) => format!("{}.{}", registry.class_name(t.class), t.name),
                None => t.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        Error::UnknownTask(name, names)
    })
}
