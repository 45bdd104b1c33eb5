from testing import assert_equal, assert_true, assert_false, assert_raises


fn test_component_name_basic() raises:
    """Test basic functionality of component_name.

    Verifies that the component handles standard inputs correctly.
    """
    # Arrange - Setup test data
    # TODO: Initialize test data

    # Act - Execute the function under test
    # TODO: Call function

    # Assert - Verify results
    # TODO: Add assertions
    pass


fn test_component_name_edge_case_empty() raises:
    """Test edge case with empty input."""
    # TODO: Test empty/null input handling
    pass


fn test_component_name_edge_case_boundary() raises:
    """Test boundary conditions."""
    # TODO: Test boundary values (min, max, zero, etc.)
    pass


fn test_component_name_error_handling() raises:
    """Test error handling for invalid inputs."""
    # TODO: Test error conditions
    # Example: assert_raises(lambda: function_with_error())
    pass


fn test_component_name_performance() raises:
    """Test performance characteristics.

    Verifies that the component meets performance requirements.
    """
    # TODO: Add performance benchmarks
    # Consider SIMD optimization validation
    pass
