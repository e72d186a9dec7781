# The Python core, imported on first use (see `python.R`).
core <- NULL

.onLoad <- function(libname, pkgname) {
  configure_python()
  core <<- reticulate::import_from_path(
    "kerasexport",
    path = system.file("python", package = pkgname),
    delay_load = TRUE
  )
  register_s3_method("tensorflow", "export_savedmodel", "keras.src.models.model.Model")
}

# Register our method for a generic of another package, now or when that
# package loads (the tensorflow R package also has `export_savedmodel()`).
register_s3_method <- function(pkg, generic, class) {
  method <- get(paste0(generic, ".", class), envir = asNamespace("kerasexport"))
  register <- function(...) {
    registerS3method(generic, class, method, envir = asNamespace(pkg))
  }
  if (isNamespaceLoaded(pkg)) {
    register()
  }
  setHook(packageEvent(pkg, "onLoad"), register)
}
