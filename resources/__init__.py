"""Icons, style sheets and small real sample data shipped with Velocitas."""
