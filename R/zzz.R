# The Python core, imported on first use (see `python.R`).
core <- NULL

.onLoad <- function(libname, pkgname) {
  configure_python()
  core <<- reticulate::import_from_path(
    "kerasexport",
    path = system.file("python", package = pkgname),
    delay_load = TRUE
  )
  claim_export_savedmodel()
  # keras3 registers its own method on tensorflow's generic (which it
  # re-exports) when it loads: claim the generic again right after, whichever
  # package comes first. tensorflow alone has the generic too.
  on_package_load("tensorflow", claim_export_savedmodel)
  on_package_load("keras3", function() {
    claim_export_savedmodel()
    announce_replacement()
  })
  if (isNamespaceLoaded("keras3")) {
    # Loaded, perhaps only through `::`, after keras3: its method was just
    # replaced, say so now.
    announce_replacement()
  }
}

.onAttach <- function(libname, pkgname) {
  if (nzchar(system.file(package = "keras3"))) {
    announce_replacement()
  }
}

.onUnload <- function(libpath) {
  for (pkg in c("tensorflow", "keras3")) {
    on_package_load(pkg, NULL)
  }
}

# Our method for Keras models, also on `tensorflow::export_savedmodel()`
# (the generic keras3 re-exports), when tensorflow is loaded.
claim_export_savedmodel <- function() {
  if (!isNamespaceLoaded("tensorflow")) {
    return(invisible(FALSE))
  }
  tensorflow <- asNamespace("tensorflow")
  if (!exists("export_savedmodel", envir = tensorflow, inherits = FALSE)) {
    return(invisible(FALSE))
  }
  registerS3method(
    "export_savedmodel", "keras.src.models.model.Model",
    export_savedmodel.keras.src.models.model.Model,
    envir = tensorflow
  )
  invisible(TRUE)
}

# Run `action` each time `pkg` loads (after its own S3 methods are
# registered), as `vctrs::s3_register()` does. One hook per package: hooks
# left by an earlier load of kerasexport are replaced; `NULL` removes ours.
on_package_load <- function(pkg, action) {
  event <- packageEvent(pkg, "onLoad")
  hooks <- Filter(function(hook) !isTRUE(attr(hook, "kerasexport")), getHook(event))
  if (!is.null(action)) {
    hook <- function(...) action()
    attr(hook, "kerasexport") <- TRUE
    hooks <- c(hooks, hook)
  }
  setHook(event, hooks, action = "replace")
}

# Said once per session: the first time kerasexport and keras3 meet.
announced <- new.env(parent = emptyenv())

announce_replacement <- function() {
  if (isTRUE(announced$keras3)) {
    return(invisible(FALSE))
  }
  announced$keras3 <- TRUE
  packageStartupMessage(
    "kerasexport's verified export_savedmodel() replaces keras3's for Keras models, ",
    "whichever package loads first (also as keras3::export_savedmodel() and ",
    "tensorflow::export_savedmodel()).\n",
    "keras3's own, unverified export stays available as model$export(path)."
  )
  invisible(TRUE)
}
