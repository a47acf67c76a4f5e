"""``python -m bot.docgen``: rewrite the generated documentation pages."""

from bot.docgen import main

main()
