"""ONNX export of SkipLlama with real per-token skipping, the manifest contract, parity fixtures and the model
build (docs/EXPORT.md, docs/MANIFEST.md). Entry points: build.build, build.export_folder, fixture.build_fixture.
"""
