"""pcapy-ng's vendored test files are data, run by test_pcapy_ng.py, not collected directly."""

collect_ignore_glob = ["pcapy_ng/*"]
