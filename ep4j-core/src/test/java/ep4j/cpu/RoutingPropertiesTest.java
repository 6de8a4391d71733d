package ep4j.cpu;

/**
 * Runs {@link RoutingProperties} in the default {@code mvn test}: surefire's default includes
 * only match {@code *Test}, {@code Test*}, {@code *Tests} and {@code *TestCase}. (If the build
 * adds {@code **}{@code /*Properties.java} to its includes, delete this class.)
 */
class RoutingPropertiesTest extends RoutingProperties {
}
