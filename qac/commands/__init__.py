"""CLI subcommands that live in their own modules; ``qac.cli.LazyGroup`` imports them on use."""
