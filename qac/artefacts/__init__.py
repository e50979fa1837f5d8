"""What qac writes and reads on disk: emission, build bundles, output and run directories."""
