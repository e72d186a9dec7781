# testthat against the installed package, on the backend in KERAS_BACKEND.
# Exits non-zero when any expectation fails or errors.
#
#   Rscript scripts/testthat.R                  # every test file
#   Rscript scripts/testthat.R --keras3 ORDER   # test-keras3.R, with keras3
#
# ORDER is "keras3-first" or "kerasexport-first": the order in which the two
# packages are attached before the tests run (the other order runs in a fresh
# process from the tests). keras3 must be on the library path (R_LIBS).
Sys.setenv(NOT_CRAN = "true") # run snapshot tests too
args <- commandArgs(trailingOnly = TRUE)
filter <- NULL
label <- Sys.getenv("KERAS_BACKEND", "tensorflow")
if (length(args) == 2 && args[[1]] == "--keras3") {
  order <- match.arg(args[[2]], c("keras3-first", "kerasexport-first"))
  packages <- if (order == "keras3-first") c("keras3", "kerasexport") else c("kerasexport", "keras3")
  for (package in packages) library(package, character.only = TRUE)
  filter <- "keras3"
  label <- paste0(label, ", keras3 ", packageVersion("keras3"), ", ", order)
} else if (length(args) > 0) {
  stop("usage: Rscript scripts/testthat.R [--keras3 keras3-first|kerasexport-first]")
}
results <- testthat::test_dir(
  "tests/testthat",
  filter = filter,
  package = "kerasexport",
  load_package = "installed",
  reporter = testthat::ProgressReporter$new(show_praise = FALSE),
  stop_on_failure = FALSE
)
df <- as.data.frame(results)
failed <- sum(df$failed) + sum(df$error)
cat(sprintf(
  "testthat (%s): %d passed, %d failed, %d skipped\n",
  label, sum(df$passed), failed, sum(df$skipped)
))
quit(status = as.integer(failed > 0))
