package app.geom;

/** Something with an area. */
public interface Shape {
    long area();

    default String describe() {
        return getClass().getSimpleName() + " area " + area();
    }
}
