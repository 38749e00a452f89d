# Targets mirror CI (.ci/run → infra/local/test.sh). Build output lives outside the clone.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/chainlake/target

.PHONY: up down fmt clippy unit test ci demo
up:
	bash infra/local/up.sh
down:
	bash infra/local/down.sh
fmt:
	cargo fmt --all --check
clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings
unit:
	cargo test --workspace --lib --locked
test: up
	cargo test --workspace --locked
ci:
	bash infra/local/test.sh
demo:
	bash infra/local/demo.sh
