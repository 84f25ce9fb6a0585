"""`lakecrew demo` and `lakecrew simulate`: a simulated estate, the demo pipelines, a sweep."""
