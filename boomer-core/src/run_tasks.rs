//! `--run-tasks`: runs each named task once, each on a fresh user, without a master, and
//! prints what it recorded: a quick check of a task while writing it.

use crate::panic::{install_panic_hook, report_panic, CatchUnwind};
use crate::registry::{Task, DEFAULT_CLASS};
use crate::stats;
use crate::users::{run_task, start_user, UserSignal};
use crate::{Ctx, Error, Options, Registry};

/// `--run-tasks`: runs each named task once, without a master, each on a fresh user, and
/// prints what it recorded.
pub(crate) async fn run(registry: &Registry, opts: &Options) -> Result<(), Error> {
    let mut out = std::io::stdout();
    run_tasks(
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

/// `--run-tasks`: runs each named task once, outside any test, each on a fresh user (its own
/// context, HTTP client and cookies, built by its class's `on_start`), and writes what it
/// recorded to `out`. A name is a task's (every class's task of that name runs) or
/// `Class.task`. `Err` with the unknown name.
async fn run_tasks(
    registry: &Registry,
    names: &[String],
    host: Option<&str>,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), String> {
    install_panic_hook();
    let mut chosen = Vec::new();
    for name in names {
        let before = chosen.len();
        for task in &registry.tasks {
            let class = registry.class_name(task.class);
            // Tasks of no class of their own are named as written.
            let qualified = match class {
                DEFAULT_CLASS => task.name.to_string(),
                class => format!("{class}.{}", task.name),
            };
            if &task.name == name || &qualified == name {
                chosen.push((task, qualified));
            }
        }
        if chosen.len() == before {
            return Err(name.clone());
        }
    }
    for (task, qualified) in chosen {
        let _ = writeln!(out, "running task {qualified}");
        let mut ctx = Ctx::detached(host);
        run_once(registry, task, &mut ctx).await;
        let window = stats::drain();
        if window.is_empty() {
            let _ = writeln!(out, "  recorded nothing");
        }
        for ((method, name), e) in &window.entries {
            let _ = writeln!(out, "  {}", summary(method, name, e));
            for (error, count) in &e.errors {
                let _ = writeln!(out, "    error x{}: {error}", count.occurrences);
            }
        }
    }
    Ok(())
}

/// One line of `--run-tasks`' report, in plain numbers.
fn summary(method: &str, name: &str, e: &stats::Entry) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    let min = e
        .min_us
        .map_or_else(|| "-".to_string(), |us| ms(us).to_string());
    format!(
        "{method} {name}: {} requests, {} failures, min {min} ms, max {} ms",
        e.num_requests,
        e.num_failures,
        ms(e.max_us)
    )
}

/// Runs one task once outside any test (`--run-tasks`): a task of a user class gets a user
/// built by the class's `on_start`, torn down by its `on_stop`.
async fn run_once(registry: &Registry, task: &Task, ctx: &mut Ctx) {
    let class = registry
        .classes
        .iter()
        .find(|c| task.class.is_some() && c.type_id == task.class);
    let signal = UserSignal::default();
    let mut state = match class {
        Some(class) => match start_user(class, ctx, &signal).await {
            Some(state) => state,
            None => return,
        },
        None => Box::new(()),
    };
    run_task(task, ctx, &mut *state).await;
    if let Some(stop) = class.and_then(|c| c.on_stop) {
        if let Err(panic) = CatchUnwind(stop(&mut *state, ctx)).await {
            report_panic("on_stop", &*panic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each task of `--run-tasks` runs on a fresh user: a cookie one class's task got does
    /// not reach the other class's (whose task has the same name: names are per class).
    #[cfg(feature = "http")]
    #[test]
    fn run_tasks_gives_each_task_a_fresh_user() {
        use std::any::Any;
        use std::sync::atomic::{AtomicBool, Ordering};

        use crate::registry::fixtures::{start, Admin, Shopper};
        use crate::registry::{Outcome, TaskFn, UserClass};

        static LEAKED: AtomicBool = AtomicBool::new(false);
        fn log_in<'a>(
            _: &'a mut (dyn Any + Send),
            ctx: &'a mut Ctx,
        ) -> crate::registry::BoxFuture<'a, Outcome> {
            Box::pin(async move {
                let jar = ctx.http().cookies_mut();
                jar.set("http://127.0.0.1/", "session=abc")
                    .map_err(|e| e.to_string())
            })
        }
        fn check<'a>(
            _: &'a mut (dyn Any + Send),
            ctx: &'a mut Ctx,
        ) -> crate::registry::BoxFuture<'a, Outcome> {
            Box::pin(async move {
                let leaked = ctx.http().cookies().get("session").is_some();
                LEAKED.store(leaked, Ordering::SeqCst);
                Ok(())
            })
        }
        let mut r = Registry::default();
        r.add_class(UserClass::new::<Shopper>("Shopper", start));
        r.add_class(UserClass::new::<Admin>("Admin", start));
        r.add_task(Task::new("visit", 1, TaskFn::User(log_in)).for_class::<Shopper>());
        r.add_task(Task::new("visit", 1, TaskFn::User(check)).for_class::<Admin>());
        assert_eq!(r.validate(), Ok(()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut out = Vec::new();
        let names = ["visit".to_string()];
        let host = Some("http://127.0.0.1");
        rt.block_on(run_tasks(&r, &names, host, &mut out)).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("running task Shopper.visit\n"), "{out}");
        assert!(out.contains("running task Admin.visit\n"), "{out}");
        assert!(
            !LEAKED.load(Ordering::SeqCst),
            "a cookie leaked between users"
        );
        // A qualified name runs one task; an unknown name is an error.
        let mut out = Vec::new();
        let names = ["Admin.visit".to_string()];
        rt.block_on(run_tasks(&r, &names, host, &mut out)).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("Shopper"), "{out}");
        let names = ["nope".to_string()];
        let err = rt.block_on(run_tasks(&r, &names, host, &mut Vec::new()));
        assert_eq!(err, Err("nope".to_string()));
    }

    #[test]
    fn run_tasks_prints_plain_numbers() {
        let mut e = stats::Entry::default();
        e.num_requests = 2;
        e.num_failures = 1;
        e.min_us = Some(43_269);
        e.max_us = 50_000;
        assert_eq!(
            summary("GET", "/", &e),
            "GET /: 2 requests, 1 failures, min 43.269 ms, max 50 ms"
        );
        let none = stats::Entry::default();
        assert_eq!(
            summary("GET", "/", &none),
            "GET /: 0 requests, 0 failures, min - ms, max 0 ms"
        );
    }
}
