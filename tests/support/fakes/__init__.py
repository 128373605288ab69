"""In-memory stand-ins for the fast tier, each satisfying the toolkit's interface that its real
adapter satisfies too; tests/toolkit/test_*_contract.py run one set of tests against both."""
