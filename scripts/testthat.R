# testthat against the installed package, on the backend in KERAS_BACKEND.
# Exits non-zero when any expectation fails or errors.
Sys.setenv(NOT_CRAN = "true") # run snapshot tests too
results <- testthat::test_dir(
  "tests/testthat",
  package = "kerasexport",
  load_package = "installed",
  reporter = testthat::ProgressReporter$new(show_praise = FALSE),
  stop_on_failure = FALSE
)
df <- as.data.frame(results)
failed <- sum(df$failed) + sum(df$error)
cat(sprintf(
  "testthat (%s): %d passed, %d failed, %d skipped\n",
  Sys.getenv("KERAS_BACKEND", "tensorflow"),
  sum(df$passed), failed, sum(df$skipped)
))
quit(status = as.integer(failed > 0))
