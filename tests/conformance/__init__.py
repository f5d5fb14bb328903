"""The conformance suite (a package, so its test modules never clash by basename with other suites)."""
