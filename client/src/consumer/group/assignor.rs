//! The partition assignors the group leader runs: `range`, `roundrobin` and
//! `cooperative-sticky`.
//!
//! What: pure functions from the members' subscriptions and the partition counts to an
//! assignment per member. `range` and `roundrobin` follow Java's `RangeAssignor` and
//! `RoundRobinAssignor` exactly (members ordered by `group.instance.id` when they have one,
//! then by member id), so a mixed group gets the same answer whichever client leads.
//! `cooperative-sticky` is our own algorithm with the properties Java's promises: balanced
//! (no member could take a partition from one with two more), sticky (a partition stays with
//! its owner unless balance needs it elsewhere), and cooperative (KIP-429: a partition that
//! changes owner is left out of this round, so its old owner revokes it first and the next
//! rebalance hands it over).
//!
//! What not: rack awareness, and Java's exact sticky tie-breaking (any balanced sticky answer
//! is valid to every client, which only reads its own assignment).

use std::collections::{BTreeMap, BTreeSet};

use crate::consumer::config::AssignmentStrategy;
use crate::consumer::record::TopicPartition;

/// One member as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub topics: BTreeSet<String>,
    pub owned: Vec<TopicPartition>,
    pub generation: i32,
}

/// Assignment per member id; every member appears, possibly with nothing.
pub(crate) type Plan = BTreeMap<String, Vec<TopicPartition>>;

/// Runs `strategy`. `partitions` is the partition count per topic (topics missing from it, or
/// with no partitions, get nothing).
pub(crate) fn assign(
    strategy: AssignmentStrategy,
    members: &[Member],
    partitions: &BTreeMap<String, i32>,
) -> Plan {
    let ordered = order(members);
    match strategy {
        AssignmentStrategy::Range => range(&ordered, partitions),
        AssignmentStrategy::RoundRobin => round_robin(&ordered, partitions),
        AssignmentStrategy::CooperativeSticky => cooperative_sticky(&ordered, partitions),
    }
}

/// Java's `MemberInfo` order: static members (by instance id) first, then the rest by
/// member id.
fn order(members: &[Member]) -> Vec<&Member> {
    let mut v: Vec<&Member> = members.iter().collect();
    v.sort_by(|a, b| match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    });
    v
}

fn empty_plan(members: &[&Member]) -> Plan {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

fn count(partitions: &BTreeMap<String, i32>, topic: &str) -> i32 {
    partitions.get(topic).copied().unwrap_or(0).max(0)
}

fn range(members: &[&Member], partitions: &BTreeMap<String, i32>) -> Plan {
    let mut plan = empty_plan(members);
    let topics: BTreeSet<&String> = members.iter().flat_map(|m| &m.topics).collect();
    for topic in topics {
        let consumers: Vec<&&Member> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .collect();
        let n = count(partitions, topic);
        let c = i32::try_from(consumers.len()).unwrap_or(i32::MAX);
        if c == 0 {
            continue;
        }
        let (per, extra) = (n / c, n % c);
        for (i, m) in (0i32..).zip(consumers) {
            let start = per * i + i.min(extra);
            let len = per + i32::from(i < extra);
            if let Some(list) = plan.get_mut(&m.member_id) {
                list.extend((start..start + len).map(|p| TopicPartition::new(topic.clone(), p)));
            }
        }
    }
    plan
}

/// Every partition of every subscribed topic, topics in name order.
fn all_partitions(members: &[&Member], partitions: &BTreeMap<String, i32>) -> Vec<TopicPartition> {
    let topics: BTreeSet<&String> = members.iter().flat_map(|m| &m.topics).collect();
    topics
        .into_iter()
        .flat_map(|t| (0..count(partitions, t)).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect()
}

fn round_robin(members: &[&Member], partitions: &BTreeMap<String, i32>) -> Plan {
    let mut plan = empty_plan(members);
    if members.is_empty() {
        return plan;
    }
    let mut next = 0usize;
    for tp in all_partitions(members, partitions) {
        // Some member is subscribed to every listed topic, so this finds one within a lap.
        for _ in 0..members.len() {
            let Some(m) = members.get(next % members.len()) else {
                break;
            };
            next = next.wrapping_add(1);
            if m.topics.contains(&tp.topic) {
                if let Some(list) = plan.get_mut(&m.member_id) {
                    list.push(tp);
                }
                break;
            }
        }
    }
    plan
}

fn cooperative_sticky(members: &[&Member], partitions: &BTreeMap<String, i32>) -> Plan {
    let all = all_partitions(members, partitions);
    let exists: BTreeSet<&TopicPartition> = all.iter().collect();
    let n = members.len();
    // Who may keep what: the claim from the highest generation wins; on a tie the first
    // member in order. Every claimant is remembered for the cooperative step.
    let mut winner: BTreeMap<&TopicPartition, (i32, usize)> = BTreeMap::new();
    let mut claimants: BTreeMap<&TopicPartition, BTreeSet<usize>> = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        for tp in &m.owned {
            let Some(tp) = exists.get(tp).copied() else {
                continue;
            };
            claimants.entry(tp).or_default().insert(i);
            if !m.topics.contains(&tp.topic) {
                continue;
            }
            match winner.get(tp) {
                Some((generation, _)) if *generation >= m.generation => {}
                _ => {
                    winner.insert(tp, (m.generation, i));
                }
            }
        }
    }
    let mut lists: Vec<Vec<TopicPartition>> = vec![Vec::new(); n];
    let mut kept: BTreeSet<(usize, &TopicPartition)> = BTreeSet::new();
    for (tp, (_, i)) in &winner {
        if let Some(list) = lists.get_mut(*i) {
            list.push((*tp).clone());
            kept.insert((*i, *tp));
        }
    }
    // Unowned partitions go to the eligible member with the fewest.
    for tp in &all {
        if winner.contains_key(tp) {
            continue;
        }
        let best = (0..n)
            .filter(|i| {
                members
                    .get(*i)
                    .is_some_and(|m| m.topics.contains(&tp.topic))
            })
            .min_by_key(|i| (lists.get(*i).map_or(usize::MAX, Vec::len), *i));
        if let Some(list) = best.and_then(|i| lists.get_mut(i)) {
            list.push(tp.clone());
        }
    }
    // Balance: move from a member to an eligible one with at least two fewer, preferring
    // partitions the giver did not already own. Each move lowers the sum of squared counts,
    // so this ends; the bound is a guard, not a limit that is ever reached.
    let bound = all.len().saturating_mul(n).saturating_add(1);
    for _ in 0..bound {
        if !move_one(members, &mut lists, &kept) {
            break;
        }
    }
    // Cooperative: a partition that someone else still owns is not handed over yet. The
    // owner is the winning claim; a partition claimed only by members no longer subscribed
    // to its topic is still theirs until they revoke it.
    let mut plan = empty_plan(members);
    for (i, list) in lists.into_iter().enumerate() {
        let Some(m) = members.get(i) else { continue };
        let keep: Vec<TopicPartition> = list
            .into_iter()
            .filter(|tp| match winner.get(tp) {
                Some((_, owner)) => *owner == i,
                None => claimants
                    .get(tp)
                    .is_none_or(|who| who.iter().all(|claimant| *claimant == i)),
            })
            .collect();
        if let Some(slot) = plan.get_mut(&m.member_id) {
            *slot = keep;
        }
    }
    for list in plan.values_mut() {
        list.sort();
    }
    plan
}

/// Moves one partition from the most loaded member that can give one; false if none can.
fn move_one(
    members: &[&Member],
    lists: &mut [Vec<TopicPartition>],
    kept: &BTreeSet<(usize, &TopicPartition)>,
) -> bool {
    let mut givers: Vec<usize> = (0..lists.len()).collect();
    givers.sort_by_key(|i| std::cmp::Reverse(lists.get(*i).map_or(0, Vec::len)));
    for giver in givers {
        let Some(from) = lists.get(giver) else {
            continue;
        };
        let from_len = from.len();
        // Newly assigned partitions first, then owned ones from the end.
        let mut candidates: Vec<usize> = (0..from_len).collect();
        candidates.sort_by_key(|j| {
            let owned = from.get(*j).is_some_and(|tp| kept.contains(&(giver, tp)));
            (owned, std::cmp::Reverse(*j))
        });
        for j in candidates {
            let Some(tp) = from.get(j) else { continue };
            let taker = (0..lists.len())
                .filter(|t| *t != giver)
                .filter(|t| {
                    members
                        .get(*t)
                        .is_some_and(|m| m.topics.contains(&tp.topic))
                })
                .filter(|t| lists.get(*t).map_or(usize::MAX, Vec::len) + 1 < from_len)
                .min_by_key(|t| (lists.get(*t).map_or(usize::MAX, Vec::len), *t));
            if let Some(taker) = taker {
                let tp = lists
                    .get_mut(giver)
                    .filter(|l| j < l.len())
                    .map(|l| l.remove(j));
                if let (Some(tp), Some(to)) = (tp, lists.get_mut(taker)) {
                    to.push(tp);
                    return true;
                }
                return false;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> Member {
        Member {
            member_id: id.into(),
            instance_id: None,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            owned: Vec::new(),
            generation: -1,
        }
    }

    fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        list.iter()
            .map(|(t, p)| TopicPartition::new(*t, *p))
            .collect()
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
    }

    /// Disjoint and, with `complete`, covering every partition.
    fn check_valid(plan: &Plan, partitions: &BTreeMap<String, i32>, complete: bool) {
        let mut seen = BTreeSet::new();
        for list in plan.values() {
            for tp in list {
                assert!(seen.insert(tp.clone()), "{tp} assigned twice in {plan:?}");
            }
        }
        if complete {
            let total: i32 = partitions.values().sum();
            assert_eq!(seen.len(), total as usize, "{plan:?}");
        }
    }

    fn sizes(plan: &Plan) -> Vec<usize> {
        plan.values().map(Vec::len).collect()
    }

    #[test]
    fn range_matches_java() {
        // Java's RangeAssignorTest.testTwoConsumersTwoTopicsSixPartitions, and uneven splits.
        let members = [member("c1", &["t1", "t2"]), member("c2", &["t1", "t2"])];
        let parts = counts(&[("t1", 3), ("t2", 3)]);
        let plan = assign(AssignmentStrategy::Range, &members, &parts);
        assert_eq!(
            plan["c1"],
            tps(&[("t1", 0), ("t1", 1), ("t2", 0), ("t2", 1)])
        );
        assert_eq!(plan["c2"], tps(&[("t1", 2), ("t2", 2)]));

        // Only subscribers of a topic share it; static members sort first by instance id.
        let mut a = member("a", &["t1"]);
        a.instance_id = Some("z".into());
        let mut b = member("b", &["t1", "t2"]);
        b.instance_id = Some("y".into());
        let members = [a, b, member("0", &["t1"])];
        let parts = counts(&[("t1", 7), ("t2", 2)]);
        let plan = assign(AssignmentStrategy::Range, &members, &parts);
        assert_eq!(
            plan["b"],
            tps(&[("t1", 0), ("t1", 1), ("t1", 2), ("t2", 0), ("t2", 1)])
        );
        assert_eq!(plan["a"], tps(&[("t1", 3), ("t1", 4)]));
        assert_eq!(plan["0"], tps(&[("t1", 5), ("t1", 6)]));
        check_valid(&plan, &parts, true);
    }

    #[test]
    fn round_robin_matches_java() {
        // Java's RoundRobinAssignorTest.testTwoConsumersTwoTopicsSixPartitions.
        let members = [member("c1", &["t1", "t2"]), member("c2", &["t1", "t2"])];
        let parts = counts(&[("t1", 3), ("t2", 3)]);
        let plan = assign(AssignmentStrategy::RoundRobin, &members, &parts);
        assert_eq!(plan["c1"], tps(&[("t1", 0), ("t1", 2), ("t2", 1)]));
        assert_eq!(plan["c2"], tps(&[("t1", 1), ("t2", 0), ("t2", 2)]));

        // Different subscriptions: testMultipleConsumersMixedTopics.
        let members = [
            member("c0", &["t1"]),
            member("c1", &["t1", "t2"]),
            member("c2", &["t1"]),
        ];
        let parts = counts(&[("t1", 3), ("t2", 2)]);
        let plan = assign(AssignmentStrategy::RoundRobin, &members, &parts);
        assert_eq!(plan["c0"], tps(&[("t1", 0)]));
        assert_eq!(plan["c1"], tps(&[("t1", 1), ("t2", 0), ("t2", 1)]));
        assert_eq!(plan["c2"], tps(&[("t1", 2)]));
    }

    #[test]
    fn every_assignor_handles_the_empty_cases() {
        for s in [
            AssignmentStrategy::Range,
            AssignmentStrategy::RoundRobin,
            AssignmentStrategy::CooperativeSticky,
        ] {
            assert!(assign(s, &[], &counts(&[("t", 3)])).is_empty());
            let plan = assign(s, &[member("m", &["missing"])], &counts(&[("t", 3)]));
            assert_eq!(plan["m"], vec![], "{s}");
            let plan = assign(s, &[member("m", &["t"])], &counts(&[("t", 3)]));
            assert_eq!(plan["m"].len(), 3, "{s}");
        }
    }

    #[test]
    fn sticky_balances_and_keeps_what_it_can() {
        let parts = counts(&[("t", 6)]);
        let members: Vec<Member> = ["a", "b", "c"]
            .iter()
            .map(|id| member(id, &["t"]))
            .collect();
        let first = assign(AssignmentStrategy::CooperativeSticky, &members, &parts);
        check_valid(&first, &parts, true);
        assert_eq!(sizes(&first), [2, 2, 2]);

        // "c" leaves: its two partitions are spread, nobody else's move.
        let mut next: Vec<Member> = members[..2].to_vec();
        for m in &mut next {
            m.owned = first[&m.member_id].clone();
            m.generation = 1;
        }
        let second = assign(AssignmentStrategy::CooperativeSticky, &next, &parts);
        check_valid(&second, &parts, true);
        assert_eq!(sizes(&second), [3, 3]);
        for m in &next {
            for tp in &m.owned {
                assert!(second[&m.member_id].contains(tp), "{tp} moved");
            }
        }
    }

    #[test]
    fn cooperative_withholds_partitions_that_change_owner() {
        let parts = counts(&[("t", 6)]);
        let mut a = member("a", &["t"]);
        a.owned = tps(&[("t", 0), ("t", 1), ("t", 2)]);
        a.generation = 1;
        let mut b = member("b", &["t"]);
        b.owned = tps(&[("t", 3), ("t", 4), ("t", 5)]);
        b.generation = 1;
        let c = member("c", &["t"]);
        // Phase one: "c" joins; a and b each give one up, but c gets nothing yet.
        let one = assign(
            AssignmentStrategy::CooperativeSticky,
            &[a.clone(), b.clone(), c.clone()],
            &parts,
        );
        check_valid(&one, &parts, false);
        assert_eq!(one["a"].len(), 2);
        assert_eq!(one["b"].len(), 2);
        assert!(one["c"].is_empty(), "{one:?}");
        // Phase two: a and b revoked them and rejoin owning two each; c gets the freed two.
        a.owned = one["a"].clone();
        a.generation = 2;
        b.owned = one["b"].clone();
        b.generation = 2;
        let two = assign(AssignmentStrategy::CooperativeSticky, &[a, b, c], &parts);
        check_valid(&two, &parts, true);
        assert_eq!(sizes(&two), [2, 2, 2]);
        assert_eq!(two["a"], one["a"]);
        assert_eq!(two["b"], one["b"]);
    }

    #[test]
    fn sticky_resolves_conflicting_claims_by_generation() {
        let parts = counts(&[("t", 2)]);
        let mut stale = member("a", &["t"]);
        stale.owned = tps(&[("t", 0), ("t", 1)]);
        stale.generation = 1;
        let mut fresh = member("b", &["t"]);
        fresh.owned = tps(&[("t", 0)]);
        fresh.generation = 2;
        let plan = assign(
            AssignmentStrategy::CooperativeSticky,
            &[stale, fresh],
            &parts,
        );
        check_valid(&plan, &parts, false);
        assert_eq!(plan["b"], tps(&[("t", 0)]));
        // a keeps t-1 (its claim is uncontested); t-0 stays with the newer claim.
        assert_eq!(plan["a"], tps(&[("t", 1)]));
    }

    #[test]
    fn sticky_with_different_subscriptions_stays_valid() {
        let parts = counts(&[("x", 4), ("y", 4), ("z", 1)]);
        let members = [
            member("a", &["x"]),
            member("b", &["x", "y"]),
            member("c", &["y", "z"]),
            member("d", &["x", "y", "z"]),
        ];
        let plan = assign(AssignmentStrategy::CooperativeSticky, &members, &parts);
        check_valid(&plan, &parts, true);
        for m in &members {
            for tp in &plan[&m.member_id] {
                assert!(m.topics.contains(&tp.topic), "{tp} to {}", m.member_id);
            }
        }
        let max = sizes(&plan).into_iter().max().unwrap();
        let min = sizes(&plan).into_iter().min().unwrap();
        assert!(max - min <= 1, "{plan:?}");
    }
}
