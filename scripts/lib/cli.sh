# shellcheck shell=bash
# Argument handling shared by the shell scripts in scripts/ (sourced, not run).
#
# A script's usage text is its header comment: the comment lines after the shebang, up to the
# first line that is not a comment. `--help` prints exactly that, so the text the user reads is
# the text kept next to the code.

# The running script, resolved now so that --help still finds it after a `cd`.
ff_script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# Prints the running script's header comment without the leading "# ".
ff_usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$ff_script"
}

# A usage error: one line on stderr naming the script, exit code 2.
ff_usage_error() {
  echo "$(basename "$0"): $* (see --help)" >&2
  exit 2
}

# Call as `ff_need_value "$@"` on an option that takes a value.
ff_need_value() {
  (($# >= 2)) || ff_usage_error "option $1 needs a value"
}

# ff_positive_int OPTION VALUE
ff_positive_int() {
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || ff_usage_error "$1 must be a positive integer, got '$2'"
}

# For scripts whose only option is --help: handles --help, `--` (the end of the options) and
# unknown options, and leaves the operands in the array ff_operands.
ff_parse_operands() {
  ff_operands=()
  while (($#)); do
    case "$1" in
      -h | --help) ff_usage; exit 0 ;;
      --) shift; ff_operands+=("$@"); return ;;
      -?*) ff_usage_error "unknown option '$1'" ;;
      *) ff_operands+=("$1"); shift ;;
    esac
  done
}
