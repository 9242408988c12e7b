//! Tier-up events through `tracing` (`tierjit::tiering::events`): a
//! subscriber collects them in process. Tier-up is synchronous here, so
//! every event happens on the test's thread, under its scoped subscriber.

mod common;

use common::programs::many_functions;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use tierjit::tiering::events::{CODE, TIERING};
use tierjit::{CompileBudget, Config, Engine, Instance, Module, Tier, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One event as recorded: target, level, message and fields (as text).
#[derive(Clone, Debug)]
struct Recorded {
    target: String,
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Whether it is event `message` of function `func`.
    fn is(&self, message: &str, func: &str) -> bool {
        self.message == message && self.field("func") == Some(func)
    }
}

/// Collects every event into a shared list.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let meta = event.metadata();
        self.0.lock().unwrap().push(Recorded {
            target: meta.target().into(),
            level: *meta.level(),
            message,
            fields,
        });
    }
}

/// Run `f` with a subscriber that records every event on this thread, and
/// return what it recorded.
fn recording(f: impl FnOnce()) -> Vec<Recorded> {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, f);
    recorder.0.lock().unwrap().clone()
}

/// The index of the first event after `from` satisfying `want`.
fn find_after(events: &[Recorded], from: usize, want: impl Fn(&Recorded) -> bool) -> usize {
    events[from..]
        .iter()
        .position(want)
        .map(|k| from + k)
        .unwrap_or_else(|| panic!("no such event after #{from} in {events:#?}"))
}

/// An engine under `auto` with synchronous tier-up at these thresholds.
fn synchronous(hot_calls: u32, hot_loops: u32) -> Config {
    let mut c = Config::new();
    c.tier(Tier::Auto)
        .stack_slots(1 << 14, 1 << 14, 1 << 14)
        .hot_calls(hot_calls)
        .hot_loops(hot_loops)
        .background_compilation(false);
    c
}

/// `main(n)` sums `sq(k)` for k below n: `sq` is a hot function, the loop
/// of `main` (header at op 2) a hot loop of a function called once.
const HOT: &str = "
func sq(i) -> i
    mul i0, i0, i0
    reti i0
end

func main(i) -> i
    iconst i1, 0
    iconst i2, 0
top:
    jge i2, i0, done
    mov i5, i2
    call i5, sq, 5
    add i1, i1, i5
    addi i2, i2, 1
    jmp top
done:
    reti i1
end
";

#[test]
fn a_hot_function_and_a_hot_loop_report_each_step() {
    let engine = Engine::new(synchronous(10, 100)).expect("engine");
    let module = Module::new(&engine, HOT).expect("verifies");
    let want = Some(Value::I((0..1000i64).map(|k| k * k).sum()));
    let events = recording(|| {
        let mut a = Instance::new(&module).expect("instance");
        // Twice: the second call enters the loop's version again, and
        // reports nothing new, but asks for the whole function.
        assert_eq!(a.call("main", &[Value::I(1000)]).unwrap(), want);
        assert_eq!(a.call("main", &[Value::I(1000)]).unwrap(), want);
        assert_eq!(a.function_stats("main").unwrap().instance_osr_entries, 2);
        // Which b's call starts in.
        let mut b = Instance::new(&module).expect("instance");
        assert_eq!(b.call("main", &[Value::I(1000)]).unwrap(), want);
        assert_eq!(b.function_stats("main").unwrap().instance_osr_entries, 0);
    });
    for e in &events {
        assert!(
            e.target == TIERING || e.target == CODE,
            "only tierjit's events: {e:?}"
        );
        assert!(e.level == Level::DEBUG, "nothing refused or evicted: {e:?}");
    }

    // The hot function: template first, then queued at its 10th call,
    // compiled in Cranelift, installed.
    let t = find_after(&events, 0, |e| {
        e.is("compiled", "sq") && e.field("tier") == Some("template")
    });
    let t = find_after(&events, t, |e| {
        e.is("installed", "sq") && e.field("tier") == Some("template")
    });
    let q = find_after(&events, t, |e| e.is("queued", "sq"));
    let queued = &events[q];
    assert_eq!(queued.target, TIERING);
    assert_eq!(queued.field("reason"), Some("calls"));
    assert_eq!(queued.field("calls"), Some("10"), "{queued:?}");
    assert_eq!(queued.field("threshold"), Some("10"), "{queued:?}");
    assert_eq!(queued.field("compile"), Some("synchronous"));
    assert_eq!(queued.field("header"), None);
    let c = find_after(&events, q, |e| {
        e.is("compiled", "sq") && e.field("tier") == Some("cranelift")
    });
    let compiled = &events[c];
    assert_eq!(compiled.field("ops"), Some("2"), "{compiled:?}");
    assert!(compiled.field("micros").is_some(), "{compiled:?}");
    let bytes: usize = compiled.field("code_bytes").unwrap().parse().unwrap();
    assert!(bytes > 0, "{compiled:?}");
    let i = find_after(&events, c, |e| {
        e.is("installed", "sq") && e.field("tier") == Some("cranelift")
    });
    let installed = &events[i];
    assert_eq!(installed.target, CODE);
    assert!(
        installed.field("addr").unwrap().starts_with("0x"),
        "{installed:?}"
    );
    assert_eq!(module.tier_of("sq").unwrap(), Some(Tier::Cranelift));

    // The hot loop: queued at its header, compiled and installed as a
    // loop-header version, entered.
    let q = find_after(&events, 0, |e| e.is("queued", "main"));
    assert_eq!(events[q].field("reason"), Some("loop header"));
    assert_eq!(events[q].field("header"), Some("2"));
    assert_eq!(events[q].field("threshold"), Some("100"));
    let c = find_after(&events, q, |e| {
        e.is("compiled", "main") && e.field("header") == Some("2")
    });
    let i = find_after(&events, c, |e| {
        e.is("installed", "main") && e.field("header") == Some("2")
    });
    let o = find_after(&events, i, |e| e.is("osr entered", "main"));
    assert_eq!(events[o].field("header"), Some("2"));
    assert!(events[o].field("instance").is_some(), "{:?}", events[o]);
    // Once per instance and header: a's two calls, one event.
    let entered = events
        .iter()
        .filter(|e| e.is("osr entered", "main"))
        .count();
    assert_eq!(entered, 1);
    // The second entry asks for the whole function.
    let q = find_after(&events, o, |e| e.is("queued", "main"));
    assert_eq!(events[q].field("reason"), Some("osr entries"));
    assert_eq!(events[q].field("header"), None);
    find_after(&events, q, |e| {
        e.is("installed", "main")
            && e.field("tier") == Some("cranelift")
            && e.field("header").is_none()
    });
    // Each request once, though two calls found the loop hot.
    assert_eq!(events.iter().filter(|e| e.message == "queued").count(), 3);
}

/// Run `main(20)` of `text` four times under `config`; the engine's code
/// figures and the events.
fn run_recorded(config: Config, text: &str) -> (tierjit::CodeStats, Vec<Recorded>) {
    let engine = Engine::new(config).expect("engine");
    let module = Module::new(&engine, text).expect("verifies");
    let mut want = None;
    let events = recording(|| {
        let mut instance = Instance::new(&module).expect("instance");
        for _ in 0..4 {
            let got = instance.call("main", &[Value::I(20)]).unwrap();
            assert!(want.is_none() || want == got);
            want = got;
        }
    });
    (engine.code_stats(), events)
}

fn count(events: &[Recorded], message: &str, why: Option<&str>) -> u64 {
    events
        .iter()
        .filter(|e| e.message == message && (why.is_none() || e.field("why") == why))
        .count() as u64
}

#[test]
fn the_code_cap_reports_evictions_and_refusals() {
    let text = many_functions(36);
    // The template code of everything, with tier-up out of reach.
    let mut c = synchronous(1_000_000, 1_000_000);
    let baseline = run_recorded(c.clone(), &text).0.bytes_in_use;

    // A little room: old Cranelift versions make way for new ones.
    c = synchronous(2, 3);
    c.code_memory_limit(baseline + 8 * 4096)
        .cranelift_inline_max_ops(0);
    let (stats, events) = run_recorded(c, &text);
    assert!(stats.evictions > 0, "{stats:?}");
    assert_eq!(count(&events, "evicted", None), stats.evictions);
    let evicted = events.iter().find(|e| e.message == "evicted").unwrap();
    assert_eq!(
        (evicted.target.as_str(), evicted.level),
        (CODE, Level::INFO)
    );
    assert_eq!(evicted.field("tier"), Some("cranelift"), "{evicted:?}");
    assert!(
        evicted.field("func").unwrap().starts_with('w'),
        "{evicted:?}"
    );

    // No room: every Cranelift version is refused.
    c = synchronous(2, 3);
    c.code_memory_limit(0);
    let (stats, events) = run_recorded(c, &text);
    assert!(stats.refusals > 0, "{stats:?}");
    assert_eq!(count(&events, "refused", Some("cap")), stats.refusals);
    assert_eq!(count(&events, "refused", None), stats.refusals);
    let refused = events.iter().find(|e| e.message == "refused").unwrap();
    assert_eq!(
        (refused.target.as_str(), refused.level),
        (CODE, Level::INFO)
    );
    assert!(
        refused.field("detail").unwrap().contains("code memory cap"),
        "{refused:?}"
    );
    assert_eq!(count(&events, "evicted", None), 0);
}

#[test]
fn a_compile_over_budget_is_refused_for_the_budget() {
    let mut c = synchronous(2, 3);
    c.cranelift_budget(CompileBudget {
        max_ops: 3,
        max_time: std::time::Duration::from_secs(2),
    });
    let (stats, events) = run_recorded(c, &many_functions(3));
    assert!(stats.over_budget > 0, "{stats:?}");
    assert_eq!(count(&events, "refused", Some("budget")), stats.over_budget);
    let refused = events.iter().find(|e| e.message == "refused").unwrap();
    assert_eq!(
        (refused.target.as_str(), refused.level),
        (TIERING, Level::INFO)
    );
    assert!(refused.field("detail").unwrap().contains("over budget"));
}

#[test]
fn without_a_subscriber_nothing_is_recorded_and_results_hold() {
    // No subscriber: the same run, the same result, and no OSR report kept.
    let engine = Engine::new(synchronous(10, 100)).expect("engine");
    let module = Module::new(&engine, HOT).expect("verifies");
    let mut a = Instance::new(&module).expect("instance");
    let want = Some(Value::I((0..1000i64).map(|k| k * k).sum()));
    assert_eq!(a.call("main", &[Value::I(1000)]).unwrap(), want);
    assert_eq!(a.function_stats("main").unwrap().instance_osr_entries, 1);
    assert!(!tracing::enabled!(target: TIERING, Level::DEBUG));
}
