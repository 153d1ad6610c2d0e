"""A reference model of outpatient settlement, written in the tests from the packs' values
(issue 24), and a seeded generator of member-years steered onto its money boundaries."""
