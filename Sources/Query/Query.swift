/// Query: read-only questions asked of an experiment's log (top-N, filters, outliers, SQL over views).
/// Readers open the log read-only and never block the writer.
public enum QueryInfo {}
