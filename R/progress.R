# Progress of an export, as one cli status line.
#
# The Python core reports its stages ("export", "verify", "done") through the
# "kerasexport" logger (see `progress.py`). While an export runs, a listener
# hands them back to R: the line shows the current step and the time since
# the export started ("Exporting onnx by the native route (jax backend)...",
# then "Verifying..."), and is cleared when the export ends, leaving the
# export's own one-line message, which gives the total time. Drawn, as cli
# draws progress, only on a dynamic terminal (not in knitr, logs or R CMD
# check); it is made of messages, so `suppressMessages()` silences it.

with_export_progress <- function(expr, display = cli_progress_display()) {
  if (is.null(display)) {
    return(expr)
  }
  listener <- core$progress$listen(function(stage, message) {
    # An error here would reach Python, which ignores it: keep R quiet too.
    try(display(stage, message), silent = TRUE)
    NULL
  })
  on.exit({
    listener$close()
    display("end", "")
  }, add = TRUE)
  expr
}

# With verbose = TRUE the exporters' own logs show the progress instead.
export_display <- function(verbose) {
  if (isTRUE(verbose)) NULL else cli_progress_display()
}

# A function of (stage, message) drawing the status line, or `NULL` where cli
# would not draw progress.
cli_progress_display <- function(dynamic = cli::is_dynamic_tty()) {
  if (!dynamic) {
    return(NULL)
  }
  bar <- new.env(parent = baseenv()) # the format below calls `::`
  function(stage, message) {
    if (stage %in% c("done", "end")) {
      if (!is.null(bar$id)) {
        cli::cli_progress_done(id = bar$id, .envir = bar)
        bar$id <- NULL
      }
      return(invisible())
    }
    bar$step <- step_text(message)
    if (is.null(bar$id)) {
      bar$id <- cli::cli_progress_bar(
        type = "custom",
        format = "{cli::symbol$info} {step} {.timestamp {cli::pb_elapsed}}",
        clear = TRUE,
        .auto_close = FALSE,
        .envir = bar
      )
    }
    cli::cli_progress_update(id = bar$id, force = TRUE, .envir = bar)
  }
}

# "Exporting onnx by the native route (jax backend): <why>." becomes
# "Exporting onnx by the native route (jax backend)...": the reason is in the
# final message.
step_text <- function(message) {
  paste0(sub("\\.$", "", sub(": .*$", "", message)), cli::symbol$ellipsis)
}
