"""obsmap's dashboard: analysis, figures, layout, callbacks and the command line."""
