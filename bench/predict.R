# R `predict()` on an ONNX artifact against onnxruntime's own
# `session.run()` (timed in Python, same process, same session), for a small
# CNN at batch 1 and 64; and `load_artifact()` in a fresh R session.
# Usage: Rscript bench/predict.R [results.md]
out_file <- commandArgs(trailingOnly = TRUE)[1]
if (is.na(out_file)) out_file <- "bench/RESULTS-predict.md"

suppressPackageStartupMessages(library(kerasexport))
keras <- reticulate::import("keras")
np <- reticulate::import("numpy", convert = FALSE)

# BENCH_QUICK=1: a smoke run (make test), too short to judge speed by.
quick <- nzchar(Sys.getenv("BENCH_QUICK"))
reps <- if (quick) c(`1` = 40L, `64` = 20L) else c(`1` = 2000L, `64` = 300L)
load_reps <- if (quick) 1L else 5L
warmup <- 20L
target_ratio_64 <- 1.2
target_diff_1_ms <- 0.5
target_load_s <- 3

keras$utils$set_random_seed(1L)
model <- keras$Sequential(list(
  keras$Input(shape = list(28L, 28L, 1L)),
  keras$layers$Conv2D(16L, 3L, activation = "relu"),
  keras$layers$MaxPooling2D(2L),
  keras$layers$Conv2D(32L, 3L, activation = "relu"),
  keras$layers$GlobalAveragePooling2D(),
  keras$layers$Dense(10L)
))
path <- file.path(tempdir(), "bench-cnn.onnx")
suppressMessages(export_savedmodel(model, path, format = "onnx", overwrite = TRUE))
artifact <- load_artifact(path)
input_name <- artifact$endpoints$serve$inputs[[1]]$name

# onnxruntime alone: the same session, inputs already float32 NumPy arrays.
reticulate::py_run_string("
import time
import numpy as np

def time_session_run(session, name, x, reps, warmup):
    feeds = {name: x}
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return times
")
main <- reticulate::import_main()

# The machine may be busy: measure both in alternating blocks, so that they
# share its load.
time_both <- function(x, x_np, reps, block = 20L) {
  for (i in seq_len(warmup)) predict(artifact, x)
  r <- numeric(0)
  ort <- numeric(0)
  while (length(r) < reps) {
    ort <- c(ort, reticulate::py_to_r(main$time_session_run(artifact$py$runtime, input_name, x_np, block, 2L)))
    for (i in seq_len(block)) {
      start <- Sys.time()
      predict(artifact, x)
      r <- c(r, as.double(Sys.time() - start, units = "secs"))
    }
  }
  c(ort = stats::median(ort), r = stats::median(r))
}

rows <- list()
for (batch in c(1L, 64L)) {
  set.seed(batch)
  x <- array(stats::runif(batch * 28 * 28), c(batch, 28, 28, 1))
  x_np <- reticulate::np_array(x, dtype = "float32")
  n <- reps[[as.character(batch)]]
  # Same answer both ways, first.
  direct <- reticulate::py_to_r(artifact$py$runtime$run(NULL, reticulate::py_dict(input_name, list(x_np), convert = FALSE))[[1]])
  stopifnot(max(abs(predict(artifact, x) - direct)) < 1e-6)
  both <- time_both(x, x_np, n)
  rows[[length(rows) + 1]] <- data.frame(batch = batch, reps = n, ort_ms = both[["ort"]] * 1e3, r_ms = both[["r"]] * 1e3)
}
timings <- do.call(rbind, rows)
timings$ratio <- timings$r_ms / timings$ort_ms
timings$diff_ms <- timings$r_ms - timings$ort_ms

# load_artifact() in a fresh R session: package load + Python start-up +
# onnxruntime session, and the whole callr round trip.
load_runs <- vapply(seq_len(load_reps), function(i) {
  started <- Sys.time()
  inside <- callr::r(function(path) {
    started <- Sys.time()
    library(kerasexport)
    artifact <- load_artifact(path)
    as.double(Sys.time() - started, units = "secs")
  }, args = list(path))
  c(inside = inside, total = as.double(Sys.time() - started, units = "secs"))
}, numeric(2))
load_inside <- stats::median(load_runs["inside", ])
load_total <- stats::median(load_runs["total", ])

b1 <- timings[timings$batch == 1, ]
b64 <- timings[timings$batch == 64, ]
verdict <- function(ok) if (ok) "met" else "MISSED"
cpu <- sub(".*:\\s*", "", grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)[1])
versions <- reticulate::py_eval(
  "{m: __import__(m).__version__ for m in ('onnxruntime', 'numpy', 'keras')}"
)
lines <- c(
  "# Benchmark: predict() on an ONNX artifact",
  "",
  sprintf("Written by `make bench` (`bench/predict.R`) on %s.", format(Sys.time(), "%Y-%m-%d %H:%M UTC", tz = "UTC")),
  "",
  sprintf("- Machine: %s, %d cores", cpu, parallel::detectCores()),
  sprintf("- R %s, reticulate %s, kerasexport %s", getRversion(), utils::packageVersion("reticulate"), utils::packageVersion("kerasexport")),
  sprintf("- Python %s: onnxruntime %s, numpy %s, keras %s (backend %s)",
    reticulate::py_config()$version, versions$onnxruntime, versions$numpy, versions$keras, keras$backend$backend()),
  "- Model: Conv2D(16) - MaxPool - Conv2D(32) - GlobalAveragePooling - Dense(10) on 28x28x1 inputs, exported to ONNX by `export_savedmodel(format = \"onnx\")`.",
  "- `predict()`: R double array in, R array out (includes the checks, the cast to float32 and both conversions).",
  "- onnxruntime: `session.run(None, {name: x})` on the same session with a float32 NumPy array ready, timed in Python.",
  "- Both measured in alternating blocks of 20 calls (the machine is shared), medians over all calls.",
  "",
  "| batch | repetitions | onnxruntime median (ms) | R predict() median (ms) | ratio | difference (ms) |",
  "|---:|---:|---:|---:|---:|---:|",
  sprintf("| %d | %d | %.3f | %.3f | %.2f | %.3f |", timings$batch, timings$reps, timings$ort_ms, timings$r_ms, timings$ratio, timings$diff_ms),
  "",
  sprintf("`load_artifact()` of the ONNX file in a fresh R session (median of %d): %.2f s for `library(kerasexport)` + `load_artifact()` inside the session; %.2f s for the whole `callr::r()` call including R start-up.",
    ncol(load_runs), load_inside, load_total),
  "",
  "Targets:",
  "",
  sprintf("- batch 64: R within %.1fx of onnxruntime: %.2fx, %s", target_ratio_64, b64$ratio, verdict(b64$ratio <= target_ratio_64)),
  sprintf("- batch 1: R within %.1f ms of onnxruntime: %+.3f ms, %s", target_diff_1_ms, b1$diff_ms, verdict(b1$diff_ms <= target_diff_1_ms)),
  sprintf("- load in a fresh session under %g s: %.2f s (inside), %s", target_load_s, load_inside, verdict(load_inside < target_load_s))
)
writeLines(lines, out_file)
writeLines(lines)
