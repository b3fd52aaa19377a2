"""`make loadtest`: concurrent front-desk and clinician sessions against gunicorn (see loadtest.run)."""
