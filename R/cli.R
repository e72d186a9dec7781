# Text for cli: data (names, shapes, messages from Python, server logs) is
# interpolated literally, so its `{` and `}` are doubled before cli reads
# the string as a template.
cli_escape <- function(x) {
  gsub("([{}])", "\\1\\1", x)
}
