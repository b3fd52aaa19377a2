#!/usr/bin/env python
"""Django's command-line utility for NovaMind."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novamind.settings")
    from django.core.management import execute_from_command_line

    from novamind import outages

    # A database outage ends any command with one line on standard error and exit status 1.
    with outages.commands_exit_on_outage(sys.argv):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
