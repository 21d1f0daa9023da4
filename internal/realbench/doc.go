// Package realbench holds the benchmarks on the real-shaped images of
// package realimage (built by `make realimages`; `make bench` builds them
// all, including the 3 GB one). Every benchmark pairs each iteration with
// the floor, one single-threaded klauspost gunzip pass over the image's
// layers, and reports its ratio to it (x-floor for wall time, cpu-x-floor
// for user+sys CPU), so runs on a noisy machine compare like with like:
//
//   - BenchmarkInspect: `lambdoctor inspect --format json IMAGE` as a child
//     process of the built binary, with its peak RSS next to the budget
//     (15 MB + 0.4 KB per merged entry), and the wall time of a second
//     inspect of the same image (reinspect-ms).
//   - BenchmarkTarExtract: tar -xzf of every layer, the bar for run's unpack,
//     into memory (the tmpfs run would pick) and to disk ($TMPDIR).
//   - BenchmarkUnpack: what `lambdoctor run` does before starting the
//     function (load, build, sandbox.MaterializeReport), into memory and
//     to disk as above, paired also with the floor of writing the same
//     tree from memory to the same place (write-floor-ms, x-write-floor),
//     bounded by
//     LAMBDOCTOR_BENCH_UNPACK_TIMEOUT (60s): an unpack that does not finish
//     is reported as such (unpack-finished 0).
//
// `make bench` runs them on 2 cores and again on one (taskset -c 0,
// GOMAXPROCS=1).
package realbench
