"""Real-world sources -> a validated district panel: event and census readers, crosswalks,
downloads and the country panel builders (imports features only)."""
