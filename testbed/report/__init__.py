"""Reports people and CI read: HTML (html.py) and JUnit XML (junit.py) from result documents."""
