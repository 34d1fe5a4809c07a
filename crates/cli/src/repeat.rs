//! Running a profile: once (run, analysis, report, publication) or as a series of repeated
//! runs kept together, as `wb run` and `wb study` do.

use std::path::PathBuf;

use anyhow::Context as _;
use wb_profile::profile::Profile;
use wb_run::lifecycle::Status;

/// How runs are made.
pub struct How {
    /// The runs directory.
    pub root: PathBuf,
    /// The genesis seed (of the first run of a series).
    pub seed: u64,
    /// `same` or `fresh` seeds across a series.
    pub seeds: String,
    /// The genesis key cache.
    pub cache: PathBuf,
    /// No progress lines.
    pub quiet: bool,
    /// The results database to publish to, if any.
    pub publish_to: Option<String>,
}

/// The exit code of a run's or series' outcome.
pub fn exit_code(s: Status) -> i32 {
    match s {
        Status::Finished => 0,
        Status::Failed => 1,
        Status::Interrupted => 130,
    }
}

/// A fresh tag for `profile`: UTC time, profile, wb's commit.
pub fn new_tag(profile: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    wb_run::rundir::make_tag(now, profile, wb_run::manifest::short_commit(7))
}

impl How {
    /// One run of a profile, then its analysis, report and publication; how it ended and its
    /// tag.
    pub fn run_once(
        &self,
        profile: Profile,
        tag: Option<String>,
    ) -> anyhow::Result<(Status, String)> {
        self.run_seeded(profile, tag, self.seed)
    }

    fn run_seeded(
        &self,
        profile: Profile,
        tag: Option<String>,
        seed: u64,
    ) -> anyhow::Result<(Status, String)> {
        let mut backend = wb_run::local::LocalBackend::new(std::env::current_exe()?);
        let finished = wb_run::lifecycle::run(
            wb_run::lifecycle::RunOptions {
                profile,
                runs_dir: self.root.clone(),
                tag,
                seed,
                genesis_cache: self.cache.clone(),
                quiet: self.quiet,
            },
            &mut backend,
        )?;
        drop(backend);
        print!(
            "{}",
            wb_run::summary::render(&finished.run.meta()?, &finished.run.path)
        );
        // The analysis of the run, into its analysis/ directory.
        let dir = &finished.run.path;
        println!("analysis:");
        let opts = wb_analyse::analysis::Options {
            run: Some(dir.clone()),
            ..Default::default()
        };
        match crate::analyse_hosts(
            &wb_analyse::inventory::run_dir_logs(dir),
            &dir.join("analysis"),
            &opts,
        ) {
            // The run report beside it: runs/<tag>/report.html.
            Ok(()) => {
                if let Err(e) = crate::report(dir, None) {
                    println!("  report failed: {e:#}");
                }
                if let Some(db) = &self.publish_to {
                    crate::results::publish_after_run(dir, db);
                }
            }
            Err(e) => println!("  analysis failed: {e:#}"),
        }
        Ok((finished.outcome.status, finished.run.tag.clone()))
    }

    /// `repeat` runs of `profile`, one after another, tagged `<series>-1…N`, kept together as
    /// the series `series`; the worst outcome. Ctrl-C ends the series after the run under way.
    pub fn series(&self, profile: &Profile, series: &str, repeat: u64) -> anyhow::Result<Status> {
        let mut tags = Vec::new();
        let mut worst = Status::Finished;
        for i in 0..repeat {
            let seed = if self.seeds == "fresh" {
                self.seed + i
            } else {
                self.seed
            };
            println!("series {series}: run {} of {repeat} (seed {seed})", i + 1);
            let (status, tag) =
                self.run_seeded(profile.clone(), Some(format!("{series}-{}", i + 1)), seed)?;
            tags.push(tag);
            if status != Status::Finished {
                worst = status;
            }
            if status == Status::Interrupted {
                println!("series {series}: interrupted; the runs so far are kept");
                break;
            }
        }
        self.write_series(series, &profile.name, &tags)?;
        Ok(worst)
    }

    /// Keeps a series' runs together: `runs/<series>/series.json` (what `wb compare` and
    /// `wb analyse variance` read), their combined analysis in `runs/<series>/variance/`, and
    /// the series in the results database.
    fn write_series(&self, series: &str, profile: &str, tags: &[String]) -> anyhow::Result<()> {
        let root = &self.root;
        let dir = root.join(series);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let analysed: Vec<&String> = tags
            .iter()
            .filter(|t| root.join(t).join("analysis/summary.json").is_file())
            .collect();
        let json = serde_json::json!({
            "series": series, "profile": profile, "seeds": self.seeds, "runs": analysed,
            "unanalysed": tags.iter().filter(|t| !analysed.contains(t)).collect::<Vec<_>>(),
        });
        let path = dir.join("series.json");
        std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "series {series}: {} of {} runs analysed → {}",
            analysed.len(),
            tags.len(),
            dir.display()
        );
        if analysed.len() >= 2 {
            let mut results = Vec::new();
            for t in &analysed {
                results.push(wb_analyse::variance::RunResults::read(
                    &root.join(t).join("analysis"),
                    t,
                )?);
            }
            let v = wb_analyse::variance::combine_runs(&results);
            v.write(&dir.join("variance"))
                .with_context(|| format!("writing {}", dir.join("variance").display()))?;
            print!("{}", wb_analyse::variance::render(&v));
        }
        if let Some(db) = &self.publish_to {
            let stored: Vec<String> = analysed.iter().map(|t| (*t).clone()).collect();
            match wb_results::open(db).and_then(|mut s| {
                wb_results::publish::publish_series(&mut s, series, profile, &self.seeds, &stored)
            }) {
                Ok(()) => println!("series {series}: published"),
                Err(e) => {
                    println!("  series publish failed: {e:#}; retry with `wb publish` of its runs")
                }
            }
        }
        Ok(())
    }
}
