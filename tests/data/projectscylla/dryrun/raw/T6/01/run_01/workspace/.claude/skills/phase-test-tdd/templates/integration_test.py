import pytest


class TestComponentNameIntegration:
    """Integration tests for ComponentName.

    These tests verify the interaction between ComponentName
    and its dependencies.
    """

    @pytest.fixture
    def setup_environment(self):
        """Set up test environment."""
        # TODO: Initialize test environment
        # Setup dependencies, test data, etc.
        yield
        # Cleanup after tests

    def test_component_integration_basic(self, setup_environment):
        """Test basic integration with dependencies."""
        # Arrange
        # TODO: Setup integrated components

        # Act
        # TODO: Execute integrated workflow

        # Assert
        # TODO: Verify integration results
        pass

    def test_component_integration_data_flow(self, setup_environment):
        """Test data flow through integrated components."""
        # TODO: Test data flowing through multiple components
        pass

    def test_component_integration_error_propagation(self, setup_environment):
        """Test error handling across component boundaries."""
        # TODO: Test error propagation
        pass

    def test_component_integration_performance(self, setup_environment):
        """Test performance of integrated system."""
        # TODO: Test end-to-end performance
        pass
