# Everyday recipes for people who have `just`; each wraps the same cargo xtask commands as the README.

# list the recipes
default:
    @just --list

# set up (.venv with PyTorch 2.11.0) if needed
setup:
    cargo xtask setup

# run a sweep spec and print its report, e.g. `just sweep sweeps/smoke.yaml`
sweep FILE *ARGS:
    cargo xtask sweep {{FILE}} {{ARGS}}

# the Stray Birds demo sweep (about 10 minutes on 2 CPU cores)
demo:
    cargo xtask demo

# the whole test suite
test:
    cargo xtask test

# ranked report of a sweep folder (default: the latest one)
report DIR="" *ARGS:
    ./target/release/sweep report {{DIR}} {{ARGS}}

# print a sweep's plan (runs, parameters, tokens, epochs, cost) without training
plan FILE:
    ./target/release/sweep run {{FILE}} --dry-run

# our trainer side by side with the PyTorch reference; appends its table to BENCHMARKS.md (about 6 minutes on 2 cores)
bench *ARGS:
    cargo xtask bench {{ARGS}}
