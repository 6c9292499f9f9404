"""The ``cavra`` command: run the system (``up``, ``api``, ``service``, ``migrate``), compute
reports locally from files (``runtime ...``), and regenerate contract docs (``contracts``)."""
