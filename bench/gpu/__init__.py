"""Scripts that run on the GPU machine (../shared/GPU_TESTBED.md): never in CI."""
