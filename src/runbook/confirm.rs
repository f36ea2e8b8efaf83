//! Confirmation: what the operator must give before a run may change anything. A destructive
//! runbook (any destructive action) on a SEV 1–2 target needs the target's id typed — in the
//! console, typed into the confirm box (Enter alone never confirms); headless,
//! `--confirm <id>`. `--yes` confirms only SEV 3–4 targets, or runbooks that destroy nothing.
//! Pure.

use super::Runbook;
use crate::estate::Service;

/// What the operator gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Nothing (a bare Enter, no flag).
    None,
    /// `--yes` (or the console's confirm button on a target that needs no typing).
    Yes,
    /// A typed service id (`--confirm sql`, or the console's typed confirmation).
    Typed(String),
}

/// Whether the runbook on this target needs the target's id typed.
pub fn needs_typed(runbook: &Runbook, target: &Service) -> bool {
    runbook.destructive && target.sev.level() <= 2
}

/// Checks the confirmation for a run of `runbook` on `target`; `Err` is the refusal, in one
/// sentence that says what to give instead.
pub fn check(runbook: &Runbook, target: &Service, given: &Confirmation) -> Result<Typed, String> {
    let id = &target.id;
    let sev = target.sev.level();
    if let Confirmation::Typed(typed) = given
        && typed != id
    {
        return Err(format!(
            "the confirmation names '{typed}', but the target is '{id}': type the target's id exactly"
        ));
    }
    if !runbook.has_actions() {
        return Ok(Typed(matches!(given, Confirmation::Typed(_))));
    }
    if needs_typed(runbook, target) {
        return match given {
            Confirmation::Typed(_) => Ok(Typed(true)),
            Confirmation::Yes => Err(format!(
                "runbook {} is destructive and '{id}' is SEV {sev}: --yes is not enough; confirm with --confirm {id}",
                runbook.id
            )),
            Confirmation::None => Err(format!(
                "runbook {} is destructive and '{id}' is SEV {sev}: confirm with --confirm {id}",
                runbook.id
            )),
        };
    }
    match given {
        Confirmation::Typed(_) => Ok(Typed(true)),
        Confirmation::Yes => Ok(Typed(false)),
        Confirmation::None => Err(format!(
            "runbook {} changes '{id}' (SEV {sev}): confirm with --yes or --confirm {id}",
            runbook.id
        )),
    }
}

/// A confirmation that passed [`check`]; `.0` says whether the target's id was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typed(pub bool);

#[cfg(test)]
mod tests {
    use super::*;

    fn estate() -> crate::estate::Estate {
        crate::estate::from_str(crate::estate::DEMO_ESTATE, "demo")
            .expect("demo")
            .0
    }

    #[test]
    fn sev_1_and_2_targets_of_a_destructive_runbook_need_their_id_typed() {
        let estate = estate();
        let failover = crate::runbook::builtin("cloud-sql-failover").expect("runbook");
        let sql = estate.service("sql").expect("sql");
        assert!(check(&failover, sql, &Confirmation::None).is_err());
        let yes = check(&failover, sql, &Confirmation::Yes).expect_err("--yes is not enough");
        assert!(yes.contains("--confirm sql"), "{yes}");
        let wrong =
            check(&failover, sql, &Confirmation::Typed("sql-us".into())).expect_err("wrong id");
        assert!(wrong.contains("names 'sql-us'"), "{wrong}");
        assert_eq!(
            check(&failover, sql, &Confirmation::Typed("sql".into())),
            Ok(Typed(true))
        );
    }

    #[test]
    fn yes_is_enough_for_sev_3_and_4() {
        let estate = estate();
        let failover = crate::runbook::builtin("memorystore-failover").expect("runbook");
        let cache = estate.service("cache").expect("cache");
        assert_eq!(cache.sev.level(), 3);
        assert_eq!(
            check(&failover, cache, &Confirmation::Yes),
            Ok(Typed(false))
        );
        assert!(check(&failover, cache, &Confirmation::None).is_err());
    }
}
