// Package experiments owns faultline's experiments, from the YAML file to
// the verdict:
//
//   - the file: its schema (schema.go, and the JSON Schema generated from
//     the same types), the strict decoder with file:line:col for every
//     problem (decode.go, syntax.go), validation that reports every problem
//     at once and resolves ${...} references (open.go), and the plan it
//     builds, which --dry-run describes (describe.go);
//   - the run: set-up of targets, proxies and the load (setup.go), one
//     timeline of phases, faults and probes (timeline.go, faults.go), abort
//     conditions watched at every interval (abort.go), the live display
//     (display.go), the journal (runjournal.go), the one rule that decides
//     the exit code (ending.go) and the rollbacks that run whatever happens;
//   - the verdicts: hypothesis and abort expressions (expr.go), judged on
//     the intervals each phase kept (sample.go) with the metric vocabulary
//     of internal/metric and, for comparisons between phases, the bootstrap
//     of internal/statistics (judge.go); time to recover (recovery.go);
//     probes (probe.go);
//   - faultline load's wiring (loadspec.go, loadrun.go): the one builder of
//     load options that load and run share.
//
// Rendering the reports is package report's; injecting faults is chaos's;
// sending the load is loadgen's.
package experiments
