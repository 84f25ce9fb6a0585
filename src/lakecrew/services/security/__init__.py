"""Security monitor (SOP 1.4.4): detectors over system.access.audit."""
