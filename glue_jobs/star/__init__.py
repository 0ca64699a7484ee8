"""curated -> star schema: SCD2 customer dimension, conformed dimensions, facts, RFM breakpoints."""
