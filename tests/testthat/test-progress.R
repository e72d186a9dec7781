# the status line, without Python ----

test_that("a step is the message's first clause, with an ellipsis", {
  withr::local_options(cli.unicode = FALSE)
  expect_identical(
    kerasexport:::step_text("Exporting onnx by the native route (jax backend): Keras's own exporter."),
    "Exporting onnx by the native route (jax backend)..."
  )
  expect_identical(
    kerasexport:::step_text("Verifying: reloading the artifact and comparing it with the model."),
    "Verifying..."
  )
})

test_that("nothing is drawn where cli draws no progress", {
  expect_null(kerasexport:::cli_progress_display(dynamic = FALSE))
})

test_that("with verbose = TRUE the exporters' logs replace the status line", {
  withr::local_options(cli.dynamic = TRUE)
  expect_type(kerasexport:::export_display(verbose = NULL), "closure")
  expect_type(kerasexport:::export_display(verbose = FALSE), "closure")
  expect_null(kerasexport:::export_display(verbose = TRUE))
})

test_that("the status line shows each step, then is cleared", {
  withr::local_options(cli.dynamic = TRUE, cli.unicode = FALSE, cli.num_colors = 1)
  display <- kerasexport:::cli_progress_display(dynamic = TRUE)
  drawn <- cli::cli_fmt({
    display("export", "Exporting onnx by the native route (torch backend): why.")
    display("verify", "Verifying: reloading the artifact.")
    display("done", "Exported onnx ...")
  })
  text <- paste(drawn, collapse = "")
  expect_match(text, "Exporting onnx by the native route (torch backend)...", fixed = TRUE)
  expect_match(text, "Verifying...", fixed = TRUE)
  # Cleared: the last thing written blanks the line and returns to its start.
  expect_match(text, "\r *\r$")
})

# with Python: an export's stages ----
# The stages do not depend on the backend: checked on TensorFlow only.

test_that("the core's stages reach R in order, and the listener goes away", {
  skip_unless_backend("tensorflow")
  seen <- character()
  record <- function(stage, message) seen <<- c(seen, stage)
  kerasexport:::with_export_progress(
    kerasexport:::core$export(small_model(), withr::local_tempfile()),
    display = record
  )
  expect_identical(seen, c("export", "verify", "done", "end"))
  expect_length(reticulate::import("logging")$getLogger("kerasexport")$handlers, 0L)
})

test_that("an export shows its steps on a dynamic terminal", {
  skip_unless_backend("tensorflow")
  withr::local_options(cli.dynamic = TRUE)
  messages <- list()
  withCallingHandlers(
    export_savedmodel(small_model(), withr::local_tempfile()),
    message = function(m) {
      messages[[length(messages) + 1]] <<- m
      invokeRestart("muffleMessage")
    }
  )
  steps <- Filter(function(m) inherits(m, "cliMessage"), messages)
  expect_match(vapply(steps, conditionMessage, ""), "Exporting tf_saved_model by the native route", all = FALSE)
  expect_match(vapply(steps, conditionMessage, ""), "Verifying", all = FALSE)
  expect_s3_class(messages[[length(messages)]], "kerasexport_export_message")
})

test_that("suppressMessages() silences the steps", {
  skip_unless_backend("tensorflow")
  withr::local_options(cli.dynamic = TRUE)
  written <- capture.output(
    suppressMessages(export_savedmodel(small_model(), withr::local_tempfile())),
    type = "message"
  )
  expect_identical(written, character())
})

test_that("elsewhere, an export says only its one line", {
  skip_unless_backend("tensorflow")
  withr::local_options(cli.dynamic = FALSE)
  messages <- list()
  withCallingHandlers(
    export_savedmodel(small_model(), withr::local_tempfile()),
    message = function(m) {
      messages[[length(messages) + 1]] <<- m
      invokeRestart("muffleMessage")
    }
  )
  expect_length(messages, 1L)
  expect_s3_class(messages[[1]], "kerasexport_export_message")
})

test_that("an archive's write_out() shows its steps on a dynamic terminal", {
  skip_unless_backend("tensorflow")
  withr::local_options(cli.dynamic = TRUE)
  model <- small_model()
  messages <- list()
  withCallingHandlers(
    export_archive() |>
      track(model) |>
      add_endpoint("serve", model$call, input_spec(c(NA, 4))) |>
      write_out(withr::local_tempfile()),
    message = function(m) {
      messages[[length(messages) + 1]] <<- m
      invokeRestart("muffleMessage")
    }
  )
  steps <- vapply(Filter(function(m) inherits(m, "cliMessage"), messages), conditionMessage, "")
  expect_match(steps, "Writing the archive \\(1 endpoint\\) by the native route", all = FALSE)
  expect_match(steps, "Verifying", all = FALSE)
  expect_s3_class(messages[[length(messages)]], "kerasexport_archive_message")
})
