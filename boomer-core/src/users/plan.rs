//! What users run: the tasks of each class after tag filtering (`--tags` /
//! `--exclude-tags`), drawn by weight or in order, and the split of a user count over the
//! classes (standalone mode). The web UI's class picker swaps a class's plan in its
//! [`ClassSlot`], where running users reload it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use super::signal::UserSignal;
use crate::registry::{Registry, Task, UserClass, DEFAULT_CLASS};

/// Which tasks run: Locust's `--tags` / `--exclude-tags`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TagFilter {
    pub(crate) include: Option<Vec<String>>,
    pub(crate) exclude: Vec<String>,
}

impl TagFilter {
    fn keeps(&self, tags: &BTreeSet<&str>) -> bool {
        let included = match &self.include {
            Some(wanted) => wanted.iter().any(|t| tags.contains(t.as_str())),
            None => true,
        };
        included && !self.exclude.iter().any(|t| tags.contains(t.as_str()))
    }
}

/// The tasks one class's users pick from, with their cumulative weights.
pub(crate) struct TaskTable {
    pub(super) tasks: Vec<Task>,
    cumulative: Vec<u64>,
}

impl TaskTable {
    pub(crate) fn new(tasks: Vec<Task>) -> Self {
        let mut sum = 0u64;
        let cumulative = tasks
            .iter()
            .map(|t| {
                sum += u64::from(t.weight.max(1));
                sum
            })
            .collect();
        TaskTable { tasks, cumulative }
    }

    /// A task drawn at random in proportion to its weight, as Locust users pick theirs.
    pub(crate) fn pick(&self, rng: &mut fastrand::Rng) -> Option<&Task> {
        let total = *self.cumulative.last()?;
        let roll = rng.u64(0..total);
        let i = self.cumulative.partition_point(|&c| c <= roll);
        self.tasks.get(i)
    }

    pub(super) fn nth(&self, i: usize) -> Option<&Task> {
        self.tasks.get(i % self.tasks.len().max(1))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// A class as its users run it: the class and its tasks after tag filtering.
pub(crate) struct ClassPlan {
    pub(crate) class: UserClass,
    pub(super) table: TaskTable,
}

/// One class's plan as its running users see it: the web UI's class picker replaces it
/// ([`Users::update_class`](super::Users::update_class)) and bumps the host's version,
/// which each user loads once per iteration anyway ([`Ctx::refresh`](crate::Ctx::refresh));
/// a user that sees the version change reloads its plan from here, so running users switch
/// at their next iteration.
pub(crate) struct ClassSlot {
    plan: RwLock<Arc<ClassPlan>>,
    /// Woken by an edit, for users whose class has no task to pick.
    pub(super) changed: Notify,
}

impl ClassSlot {
    fn new(plan: Arc<ClassPlan>) -> Arc<Self> {
        Arc::new(ClassSlot {
            plan: RwLock::new(plan),
            changed: Notify::new(),
        })
    }

    pub(super) fn get(&self) -> Arc<ClassPlan> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn set(&self, plan: Arc<ClassPlan>) {
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = plan;
    }

    /// Waits until the class has a task to pick (an edit gave it some): its plan then;
    /// `None` if the user was told to stop first.
    pub(super) async fn until_tasks(&self, signal: &UserSignal) -> Option<Arc<ClassPlan>> {
        loop {
            // Created before the check, so an edit in between still wakes us.
            let changed = self.changed.notified();
            let plan = self.get();
            if !plan.table.is_empty() {
                return Some(plan);
            }
            tokio::select! {
                biased;
                _ = signal.soft() => return None,
                _ = changed => {}
            }
        }
    }
}

/// Every class of the registry, with the task tables users pick from.
pub(crate) struct Plan {
    pub(super) classes: Vec<Arc<ClassPlan>>,
}

impl Plan {
    pub(crate) fn new(registry: &Registry, filter: &TagFilter) -> Plan {
        let mut classes = registry.classes.clone();
        if registry.tasks.iter().any(|t| t.class.is_none()) {
            classes.push(UserClass::default_class(DEFAULT_CLASS));
        }
        let classes = classes
            .into_iter()
            .map(|class| {
                let mut tasks: Vec<Task> = registry
                    .tasks
                    .iter()
                    .filter(|t| t.class == class.type_id)
                    .filter(|t| {
                        let tags: BTreeSet<&str> = t
                            .tags
                            .iter()
                            .chain(class.tags.iter())
                            .map(String::as_str)
                            .collect();
                        filter.keeps(&tags)
                    })
                    .cloned()
                    .collect();
                if class.sequential {
                    tasks.sort_by(|a, b| a.order.cmp(&b.order));
                }
                if tasks.is_empty() && filter != &TagFilter::default() {
                    tracing::warn!(
                        "user class {} has no task left after tag filtering",
                        class.name
                    );
                }
                Arc::new(ClassPlan {
                    class,
                    table: TaskTable::new(tasks),
                })
            })
            .collect();
        Plan { classes }
    }

    /// The class that runs the master's class `name`: the class of that name; else the
    /// default class (tasks with no user state); else the only class there is.
    pub(crate) fn resolve(&self, name: &str) -> Option<&Arc<ClassPlan>> {
        self.resolve_index(name).map(|i| &self.classes[i])
    }

    /// [`resolve`](Self::resolve), as an index into the classes.
    pub(super) fn resolve_index(&self, name: &str) -> Option<usize> {
        self.classes
            .iter()
            .position(|c| c.class.type_id.is_some() && c.class.name == name)
            .or_else(|| self.classes.iter().position(|c| c.class.type_id.is_none()))
            .or((self.classes.len() == 1).then_some(0))
    }

    /// A slot per class, holding its plan, for the users to reload from.
    pub(super) fn slots(&self) -> Vec<Arc<ClassSlot>> {
        self.classes.iter().cloned().map(ClassSlot::new).collect()
    }

    /// Locust's split of `total` users over the classes (standalone mode): fixed counts
    /// first, then the rest by weight, largest remainders first.
    pub(crate) fn distribute(&self, total: u32) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        let mut left = total;
        for c in self.classes.iter().filter(|c| c.class.fixed_count > 0) {
            let n = c.class.fixed_count.min(left);
            out.insert(c.class.name.clone(), n);
            left -= n;
        }
        let weighted: Vec<&Arc<ClassPlan>> = self
            .classes
            .iter()
            .filter(|c| c.class.fixed_count == 0)
            .collect();
        let weight_sum: u64 = weighted
            .iter()
            .map(|c| u64::from(c.class.weight.max(1)))
            .sum();
        if weight_sum == 0 {
            return out;
        }
        let mut shares: Vec<(String, u32, f64)> = weighted
            .iter()
            .map(|c| {
                let exact = f64::from(left) * c.class.weight.max(1) as f64 / weight_sum as f64;
                (c.class.name.clone(), exact.floor() as u32, exact.fract())
            })
            .collect();
        let mut rest = left - shares.iter().map(|s| s.1).sum::<u32>();
        shares.sort_by(|a, b| b.2.total_cmp(&a.2));
        for share in shares.iter_mut() {
            if rest == 0 {
                break;
            }
            share.1 += 1;
            rest -= 1;
        }
        for (name, n, _) in shares {
            out.insert(name, n);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fixtures::{registry, start, task, Shopper};

    #[test]
    fn weighted_choice_follows_the_weights() {
        let table = TaskTable::new(vec![task("a", 1), task("b", 3), task("c", 6)]);
        let mut rng = fastrand::Rng::with_seed(42);
        let mut counts = BTreeMap::new();
        let n = 1_000_000;
        for _ in 0..n {
            *counts
                .entry(table.pick(&mut rng).unwrap().name.clone())
                .or_insert(0u32) += 1;
        }
        for (name, share) in [("a", 0.1), ("b", 0.3), ("c", 0.6)] {
            let got = f64::from(counts[name]) / f64::from(n);
            assert!((got - share).abs() < 0.003, "{name}: {got} vs {share}");
        }
    }

    #[test]
    fn tag_filters_as_locust() {
        let f = |include: Option<&[&str]>, exclude: &[&str]| TagFilter {
            include: include.map(|i| i.iter().map(|s| s.to_string()).collect()),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        };
        let tags: BTreeSet<&str> = ["a", "b"].into();
        let none = BTreeSet::new();
        assert!(f(None, &[]).keeps(&tags));
        assert!(f(None, &[]).keeps(&none));
        assert!(f(Some(&["b", "z"]), &[]).keeps(&tags));
        assert!(!f(Some(&["z"]), &[]).keeps(&tags));
        assert!(!f(Some(&["z"]), &[]).keeps(&none));
        assert!(!f(None, &["a"]).keeps(&tags));
        assert!(f(None, &["a"]).keeps(&none));
    }

    #[test]
    fn master_class_names_map_to_classes() {
        let plan = Plan::new(&registry(false), &TagFilter::default());
        assert_eq!(plan.resolve("Shopper").unwrap().class.name, "Shopper");
        assert_eq!(plan.resolve("Admin").unwrap().class.name, "Admin");
        assert!(plan.resolve("Unknown").is_none());
        // With tasks of no class, unknown names go to the default class.
        let plan = Plan::new(&registry(true), &TagFilter::default());
        assert_eq!(plan.resolve("Unknown").unwrap().class.name, DEFAULT_CLASS);
        assert_eq!(plan.resolve("Shopper").unwrap().class.name, "Shopper");
        // A single class takes every name.
        let mut one = Registry::default();
        one.add_class(UserClass::new::<Shopper>("Shopper", start));
        one.add_task(task("shop", 1).for_class::<Shopper>());
        let plan = Plan::new(&one, &TagFilter::default());
        assert_eq!(plan.resolve("RustUser").unwrap().class.name, "Shopper");
    }

    #[test]
    fn users_split_over_classes_as_locust() {
        let plan = Plan::new(&registry(true), &TagFilter::default());
        // Admin fixed at 2; the other 10 by weight: Shopper 3, default 1.
        let split = plan.distribute(12);
        assert_eq!(split["Admin"], 2);
        assert_eq!(split["Shopper"] + split[DEFAULT_CLASS], 10);
        assert_eq!(split["Shopper"], 8);
        assert_eq!(plan.distribute(1)["Admin"], 1);
    }
}
