"""The console's actions (spec §7.5): each one the API request of the original button, made in-process as
the signed-in actor; :mod:`.registry` lists them, :mod:`.routes` serves them at ``/console/actions``."""
